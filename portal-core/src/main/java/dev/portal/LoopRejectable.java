package dev.portal;

import java.util.concurrent.RejectedExecutionException;

/** A callback that must hear about it when the loop stopped before it could run. */
interface LoopRejectable {

    void rejected(RejectedExecutionException e);
}
