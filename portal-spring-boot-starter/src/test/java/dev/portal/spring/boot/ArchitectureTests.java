package dev.portal.spring.boot;

import com.tngtech.archunit.base.DescribedPredicate;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMember;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.members;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.methods;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The starter's architecture, in the rules Spring Boot applies to its own auto-configuration
 * ({@code ArchitectureRules} in Spring Boot's build).
 */
class ArchitectureTests {

    private static JavaClasses starter;

    @BeforeAll
    static void importStarter() {
        starter = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("dev.portal.spring");
        assertThat(starter.stream().filter((c) -> c.isAnnotatedWith(AutoConfiguration.class))).isNotEmpty();
    }

    @Test
    void autoConfigurationClassesArePublicAndFinal() {
        classes().that()
            .areAnnotatedWith(AutoConfiguration.class)
            .should()
            .bePublic()
            .andShould()
            .haveModifier(JavaModifier.FINAL)
            .check(starter);
    }

    @Test
    void autoConfigurationClassesHaveNoPublicMembersButConstants() {
        members().that()
            .areDeclaredInClassesThat()
            .areAnnotatedWith(AutoConfiguration.class)
            .and(areNotConstants())
            .and(areNotDefaultConstructors())
            .should()
            .notBePublic()
            // As in Spring Boot: today the class holds only constants, so nothing may be checked.
            .allowEmptyShould(true)
            .check(starter);
    }

    @Test
    void configurationGroupsArePackagePrivate() {
        classes().that()
            .areAnnotatedWith(Configuration.class)
            .and()
            .areNotAnnotatedWith(AutoConfiguration.class)
            .should()
            .notBePublic()
            .andShould()
            .notBePrivate()
            .check(starter);
    }

    @Test
    void beanMethodsAreNotPublic() {
        methods().that().areAnnotatedWith(Bean.class).should().notBePublic().check(starter);
    }

    @Test
    void coreInternalsAreNotUsed() {
        noClasses().should().dependOnClassesThat().resideInAPackage("dev.portal.internal..").check(starter);
    }

    @Test
    void packagesAreFreeOfCycles() {
        slices().matching("dev.portal.spring.(**)").should().beFreeOfCycles().check(starter);
    }

    private static DescribedPredicate<JavaMember> areNotConstants() {
        return DescribedPredicate.describe("are not constants",
                (member) -> !(member.getModifiers().contains(JavaModifier.STATIC)
                        && member.getModifiers().contains(JavaModifier.FINAL)));
    }

    private static DescribedPredicate<JavaMember> areNotDefaultConstructors() {
        return DescribedPredicate.describe("are not default constructors",
                (member) -> !(member.getName().equals("<init>") && member.getOwner().getConstructors().size() == 1
                        && ((com.tngtech.archunit.core.domain.JavaCodeUnit) member).getParameters().isEmpty()));
    }

}
