package dev.portal;

/**
 * Counts of {@link ToThread#runSync} calls by outcome and of cancellations by kind, since the
 * loop started.
 *
 * @param started calls whose function started on a worker
 * @param succeeded calls whose function returned a value
 * @param failed calls whose function threw
 * @param cancelledBeforeStart calls cancelled before the function started (it never ran)
 * @param shielded calls whose caller was cancelled while the function ran under
 *        {@link CancelMode#SHIELD}: the caller waited and got the outcome
 * @param abandoned calls abandoned by a cancelled caller under {@link CancelMode#ABANDON}
 * @param interrupted calls abandoned under {@link CancelMode#INTERRUPT}, whose worker was interrupted
 * @param checkCancelledRaised times {@link FromThread#checkCancelled()} raised in a worker
 */
public record OffloadStatistics(long started, long succeeded, long failed, long cancelledBeforeStart, long shielded,
        long abandoned, long interrupted, long checkCancelledRaised) {
}
