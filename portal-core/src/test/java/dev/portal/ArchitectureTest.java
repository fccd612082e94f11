package dev.portal;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import java.lang.reflect.Modifier;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The layering rules of portal-core, checked on its compiled classes. */
class ArchitectureTest {

    private static JavaClasses core;

    @BeforeAll
    static void importCore() {
        core = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.portal");
    }

    @Test
    void coreDependsOnNoFramework() {
        noClasses().should().dependOnClassesThat().resideInAnyPackage("org.springframework..", "io.micrometer.core..",
                "reactor..", "io.vertx..").check(core);
    }

    @Test
    void internalPackageDoesNotDependOnTheApi() {
        noClasses().that().resideInAPackage("dev.portal.internal..").should().dependOnClassesThat()
                .resideInAPackage("dev.portal").check(core);
    }

    @Test
    void packagesAreFreeOfCycles() {
        slices().matching("dev.portal.(*)..").should().beFreeOfCycles().check(core);
    }

    @Test
    void publicApiClassesAreFinalOrInterfacesOrRecordsOrEnums() {
        classes().that().resideInAPackage("dev.portal").and().arePublic().and().areTopLevelClasses()
                .should(beFinalOrNotExtendable()).check(core);
    }

    @Test
    void exceptionsAreUnchecked() {
        classes().that().resideInAPackage("dev.portal").and().areAssignableTo(Exception.class)
                .should().beAssignableTo(RuntimeException.class).check(core);
    }

    private static ArchCondition<JavaClass> beFinalOrNotExtendable() {
        return new ArchCondition<>("be final, an interface, a record or an enum") {
            @Override
            public void check(JavaClass item, ConditionEvents events) {
                Class<?> type = item.reflect();
                boolean ok = type.isInterface() || type.isRecord() || type.isEnum()
                        || Modifier.isFinal(type.getModifiers());
                if (!ok) {
                    events.add(SimpleConditionEvent.violated(item, item.getName() + " is public and extendable"));
                }
            }
        };
    }
}
