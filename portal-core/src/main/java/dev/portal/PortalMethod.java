package dev.portal;

/** The {@link BlockingPortal} method a {@link PortalCallEvent} reports. */
public enum PortalMethod {

    /** {@link BlockingPortal#call}. */
    CALL("call"),

    /** {@link BlockingPortal#callSync(java.util.concurrent.Callable)} and its {@code Runnable} form. */
    CALL_SYNC("callSync"),

    /** {@link BlockingPortal#startTaskSoon}. */
    START_TASK_SOON("startTaskSoon"),

    /** {@link BlockingPortal#startTask}. */
    START_TASK("startTask"),

    /** {@link BlockingPortal#wrapAsyncResource} and {@link BlockingPortal#withAsyncResource}. */
    WRAP_ASYNC_RESOURCE("wrapAsyncResource");

    private final String methodName;

    PortalMethod(String methodName) {
        this.methodName = methodName;
    }

    /** The Java method's name, as in {@code "startTaskSoon"}. */
    public String methodName() {
        return methodName;
    }
}
