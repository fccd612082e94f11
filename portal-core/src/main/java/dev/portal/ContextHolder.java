package dev.portal;

import dev.portal.internal.Worker;

/** Finds where task-local values live for the calling thread: loop task, worker call, or thread. */
final class ContextHolder {

    private static final ThreadLocal<Locals> THREAD_LOCALS = ThreadLocal.withInitial(() -> Locals.EMPTY);

    private ContextHolder() {
    }

    static Locals currentLocals() {
        EventLoop loop = EventLoop.current();
        if (loop != null) {
            LoopTask task = loop.frame.currentTask;
            return task != null ? task.locals : Locals.EMPTY;
        }
        Job<?> job = currentJob();
        if (job != null) {
            return job.locals;
        }
        return THREAD_LOCALS.get();
    }

    static void setCurrentLocals(Locals locals) {
        EventLoop loop = EventLoop.current();
        if (loop != null) {
            LoopTask task = loop.frame.currentTask;
            if (task == null) {
                throw new IllegalStateException("TaskLocal values can be set only inside a task; this callback "
                        + "runs outside any task (submitted with EventLoop.execute). Start a task instead, for "
                        + "example with a TaskGroup or a BlockingPortal");
            }
            task.locals = locals;
            return;
        }
        Job<?> job = currentJob();
        if (job != null) {
            job.locals = locals;
            return;
        }
        if (locals == Locals.EMPTY) {
            THREAD_LOCALS.remove();
        } else {
            THREAD_LOCALS.set(locals);
        }
    }

    static Job<?> currentJob() {
        Worker worker = Worker.current();
        if (worker == null) {
            return null;
        }
        Object job = worker.currentJob();
        return job instanceof Job ? (Job<?>) job : null;
    }
}
