package dev.portal.spring.boot.webmvc;

import java.util.ArrayList;
import java.util.List;

import dev.portal.BlockingPortal;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;

import org.springframework.beans.BeansException;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.web.method.support.HandlerMethodReturnValueHandler;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} of Spring
 * MVC for Portal: a controller that returns a portal future ({@code portal.startTaskSoon(...)}) is
 * served asynchronously, freeing the servlet thread, and the portal task is cancelled when the async
 * request times out or fails (the client went away). Turn it off with
 * {@code portal.mvc.cancel-on-disconnect=false} to keep Spring MVC's own handling, which lets the task
 * run on.
 */
@AutoConfiguration(after = PortalAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass({ BlockingPortal.class, RequestMappingHandlerAdapter.class })
@ConditionalOnBooleanProperty(name = "portal.mvc.cancel-on-disconnect", matchIfMissing = true)
public final class PortalWebMvcAutoConfiguration {

    @Bean
    static BeanPostProcessor portalCancellingCompletionStageHandler() {
        return new BeanPostProcessor() {
            @Override
            public Object postProcessAfterInitialization(Object bean, String beanName) throws BeansException {
                if (bean instanceof RequestMappingHandlerAdapter adapter && adapter.getReturnValueHandlers() != null) {
                    List<HandlerMethodReturnValueHandler> handlers = new ArrayList<>(adapter.getReturnValueHandlers());
                    // Ahead of Spring MVC's DeferredResultMethodReturnValueHandler, which does not cancel.
                    handlers.add(0, new CancellingCompletionStageReturnValueHandler());
                    adapter.setReturnValueHandlers(handlers);
                }
                return bean;
            }
        };
    }

}
