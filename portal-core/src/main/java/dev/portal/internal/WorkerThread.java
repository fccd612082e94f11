package dev.portal.internal;

/** A platform worker thread; carries its {@link Worker} so lookups need no ThreadLocal. */
final class WorkerThread extends Thread {

    final Worker worker;

    WorkerThread(Worker worker, String name) {
        super(worker, name);
        this.worker = worker;
        setDaemon(true);
    }
}
