package dev.portal.sample.web;

import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeoutException;

import dev.portal.sample.customers.CustomerNotFoundException;
import dev.portal.sample.customers.DuplicateCustomerException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

/**
 * Every error as an RFC 9457 problem (JSON) with the request id, never a stack trace: bad input is
 * 400, an unknown customer 404, a duplicate 409, a missed deadline 504, a stopping service 503.
 * Spring MVC's own exceptions (a malformed id, unreadable JSON) keep their 4xx status.
 */
@RestControllerAdvice
public class ApiErrors extends ResponseEntityExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ApiErrors.class);

    @ExceptionHandler(BadRequestException.class)
    ProblemDetail badRequest(BadRequestException e) {
        return problem(HttpStatus.BAD_REQUEST, "Bad request", e.getMessage());
    }

    @ExceptionHandler(CustomerNotFoundException.class)
    ProblemDetail notFound(CustomerNotFoundException e) {
        return problem(HttpStatus.NOT_FOUND, "Customer not found", e.getMessage());
    }

    @ExceptionHandler(DuplicateCustomerException.class)
    ProblemDetail duplicate(DuplicateCustomerException e) {
        return problem(HttpStatus.CONFLICT, "Duplicate customer", e.getMessage());
    }

    @ExceptionHandler(TimeoutException.class)
    ProblemDetail deadline(TimeoutException e) {
        log.warn("deadline passed: {}", e.getMessage());
        return problem(HttpStatus.GATEWAY_TIMEOUT, "Deadline passed",
                "the work did not finish within its deadline and was cancelled; its worker thread was freed");
    }

    @ExceptionHandler(CancellationException.class)
    ProblemDetail cancelled(CancellationException e) {
        return problem(HttpStatus.SERVICE_UNAVAILABLE, "Cancelled",
                "the work was cancelled, most likely because the service is shutting down; retry later");
    }

    @ExceptionHandler(Exception.class)
    ProblemDetail unexpected(Exception e) {
        log.error("request failed", e);
        return problem(HttpStatus.INTERNAL_SERVER_ERROR, "Internal error",
                "the request failed; the log has the details under request id " + MDC.get(RequestIdFilter.MDC_KEY));
    }

    /** Adds the request id to the problems Spring MVC makes for its own exceptions. */
    @Override
    protected ResponseEntity<Object> handleExceptionInternal(Exception ex, Object body, HttpHeaders headers,
            HttpStatusCode status, WebRequest request) {
        if (body instanceof ProblemDetail problem) {
            problem.setProperty("requestId", MDC.get(RequestIdFilter.MDC_KEY));
        }
        return super.handleExceptionInternal(ex, body, headers, status, request);
    }

    private static ProblemDetail problem(HttpStatus status, String title, String detail) {
        ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, detail);
        problem.setTitle(title);
        problem.setProperty("requestId", MDC.get(RequestIdFilter.MDC_KEY));
        return problem;
    }
}
