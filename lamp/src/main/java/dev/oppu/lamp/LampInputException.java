package dev.oppu.lamp;

/** Input that does not follow LaMP's format (unknown task, missing marker, missing field). The message is the reason. */
public class LampInputException extends IllegalArgumentException {
  public LampInputException(String message) {
    super(message);
  }
}
