package dev.portal.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class AdaptiveSpinTest {

    private static final long SPIN = 20_000;

    /** Waits until the next spin, each counted as a wait that parks at once. */
    private static int parksBeforeNextSpin(AdaptiveSpin s) {
        int parks = 0;
        while (s.spinNanos() == 0) {
            parks++;
            assertThat(parks).as("parks in a row").isLessThanOrEqualTo(AdaptiveSpin.MAX_SKIP);
        }
        return parks;
    }

    @Test
    void spinsOnEveryWaitWhileSpinsSucceed() {
        AdaptiveSpin s = new AdaptiveSpin(SPIN);
        for (int i = 0; i < 1000; i++) {
            assertThat(s.spinNanos()).isEqualTo(SPIN);
            s.spun(true);
        }
        assertThat(s.backingOff()).isFalse();
    }

    @Test
    void failedSpinsParkOneTwoFourUpToTheCapWaitsBeforeTryingAgain() {
        AdaptiveSpin s = new AdaptiveSpin(SPIN);
        List<Integer> gaps = new ArrayList<>();
        assertThat(s.spinNanos()).isEqualTo(SPIN);
        s.spun(false);
        for (int i = 0; i < 9; i++) {
            gaps.add(parksBeforeNextSpin(s)); // this call already returned the next spin
            s.spun(false);
        }
        assertThat(gaps).containsExactly(1, 2, 4, 8, 16, 32, 64, 64, 64);
    }

    @Test
    void oneSuccessfulSpinEndsTheBackoff() {
        AdaptiveSpin s = new AdaptiveSpin(SPIN);
        for (int i = 0; i < 10; i++) {
            s.spinNanos();
            s.spun(false);
            parksBeforeNextSpin(s);
        }
        s.spun(true);
        assertThat(s.spinNanos()).isEqualTo(SPIN);
        s.spun(false);
        assertThat(parksBeforeNextSpin(s)).as("back to the shortest backoff").isEqualTo(1);
    }

    @Test
    void aShortParkWhileBackingOffSpinsAgainAtOnce() {
        AdaptiveSpin s = new AdaptiveSpin(SPIN);
        s.spinNanos();
        s.spun(false);
        s.spinNanos();
        s.spun(false); // now skipping 2
        assertThat(s.spinNanos()).isZero();
        s.parked(SPIN * 10); // a long park says nothing new
        assertThat(s.backingOff()).isTrue();
        s.parked(SPIN / 4); // the work came sooner than a spin lasts
        assertThat(s.backingOff()).isFalse();
        assertThat(s.spinNanos()).isEqualTo(SPIN);
        s.spun(false);
        assertThat(parksBeforeNextSpin(s)).isEqualTo(1);
    }

    @Test
    void aZeroSpinNeverSpins() {
        AdaptiveSpin s = new AdaptiveSpin(0);
        for (int i = 0; i < 100; i++) {
            assertThat(s.spinNanos()).isZero();
            s.parked(0);
        }
        assertThat(s.maxSpinNanos()).isZero();
    }
}
