package dev.oppu.evaluation.replay;

import java.time.Duration;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Progress bars for long steps (console), or none (tests, scripts). */
public interface Progress {

  /** One bar: call {@link #stepTo} with the number done, then close it. */
  interface Bar extends AutoCloseable {
    void stepTo(long done);

    void message(String text);

    @Override
    void close();
  }

  Bar start(String task, long max);

  /** me.tongfei progress bars on the console (stderr). */
  static Progress console() {
    return (task, max) -> {
      ProgressBar pb = new ProgressBarBuilder().setTaskName(task).setInitialMax(max)
          .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).setMaxRenderedLength(110)
          .showSpeed().setSpeedUnit(java.time.temporal.ChronoUnit.SECONDS).build();
      return new Bar() {
        @Override
        public void stepTo(long done) {
          pb.stepTo(done);
        }

        @Override
        public void message(String text) {
          pb.setExtraMessage(text);
        }

        @Override
        public void close() {
          pb.close();
        }
      };
    };
  }

  static Progress none() {
    return (task, max) -> new Bar() {
      @Override
      public void stepTo(long done) {}

      @Override
      public void message(String text) {}

      @Override
      public void close() {}
    };
  }

  /** Poll interval of waiting loops that drive a bar. */
  Duration TICK = Duration.ofMillis(100);
}
