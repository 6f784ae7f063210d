package dev.oppu.trainer;

/** Runs the regression test N times from a main (to compare classpaths before/after the fix). Not a test. */
public final class ConcurrentTrainingLoop {
  public static void main(String[] args) throws Exception {
    int n = Integer.parseInt(args[0]);
    int failed = 0;
    for (int i = 0; i < n; i++) {
      java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("ctt");
      try {
        new ConcurrentTrainingTest().trainingsNextToGenerationAndGcEqualTheSameTrainingsAlone(dir);
        System.out.println("run " + i + ": pass");
      } catch (Throwable t) {
        failed++;
        System.out.println("run " + i + ": FAIL " + t.getMessage());
      }
    }
    System.out.println(failed + " of " + n + " runs failed");
  }
}
