package dev.portal.internal;

/**
 * A platform worker thread; carries its {@link Worker} so lookups need no ThreadLocal. It does not
 * inherit the InheritableThreadLocals of the thread that starts it (see {@link WorkerPool}).
 */
final class WorkerThread extends Thread {

    final Worker worker;

    WorkerThread(Worker worker, String name) {
        super(null, worker, name, 0, false);
        this.worker = worker;
        setDaemon(true);
    }
}
