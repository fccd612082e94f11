package dev.portal.spring.boot.webmvc;

import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

import org.jspecify.annotations.Nullable;

import org.springframework.core.MethodParameter;
import org.springframework.web.context.request.NativeWebRequest;
import org.springframework.web.context.request.async.DeferredResult;
import org.springframework.web.context.request.async.WebAsyncUtils;
import org.springframework.web.method.support.HandlerMethodReturnValueHandler;
import org.springframework.web.method.support.ModelAndViewContainer;

/**
 * Serves a {@link CompletionStage} returned by a controller asynchronously, as Spring MVC does, and
 * also cancels it, when it is a {@link Future} (a portal's {@code startTaskSoon} future, any
 * {@code CompletableFuture}), if the request ends before it completes: on the async request timeout
 * ({@code spring.mvc.async.request-timeout}) and on an async error such as a client that went away.
 * Cancelling a portal future cancels its task, and with it the task's offloads (a worker running one
 * in {@code INTERRUPT} mode is interrupted).
 */
final class CancellingCompletionStageReturnValueHandler implements HandlerMethodReturnValueHandler {

    @Override
    public boolean supportsReturnType(MethodParameter returnType) {
        return CompletionStage.class.isAssignableFrom(returnType.getParameterType());
    }

    @Override
    public void handleReturnValue(@Nullable Object returnValue, MethodParameter returnType,
            ModelAndViewContainer mavContainer, NativeWebRequest webRequest) throws Exception {
        if (returnValue == null) {
            mavContainer.setRequestHandled(true);
            return;
        }
        CompletionStage<?> stage = (CompletionStage<?>) returnValue;
        DeferredResult<Object> result = new DeferredResult<>();
        // Set once the request has ended without the stage: its cancellation must not become the
        // response (Spring MVC answers a timeout with 503 and an error as the error says).
        AtomicBoolean requestEnded = new AtomicBoolean();
        result.onTimeout(() -> {
            requestEnded.set(true);
            cancel(stage);
        });
        result.onError((error) -> {
            requestEnded.set(true);
            cancel(stage);
        });
        stage.whenComplete((value, error) -> {
            if (requestEnded.get()) {
                return;
            }
            if (error != null) {
                result.setErrorResult((error instanceof CompletionException && error.getCause() != null)
                        ? error.getCause() : error);
            }
            else {
                result.setResult(value);
            }
        });
        WebAsyncUtils.getAsyncManager(webRequest).startDeferredResultProcessing(result, mavContainer);
    }

    private static void cancel(CompletionStage<?> stage) {
        if (stage instanceof Future<?> future) {
            future.cancel(true);
        }
    }

}
