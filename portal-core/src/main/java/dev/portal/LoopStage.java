package dev.portal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * A stage bound to an event loop: dependents are LoopStages too, and the {@code *Async} variants
 * without an executor run on the loop (in the task and cancel scope that attached them) instead of
 * the common pool.
 */
class LoopStage<T> extends CompletableFuture<T> {

    final EventLoop loop;

    LoopStage(EventLoop loop) {
        this.loop = loop;
    }

    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new LoopStage<>(loop);
    }

    @Override
    public Executor defaultExecutor() {
        return loop;
    }
}
