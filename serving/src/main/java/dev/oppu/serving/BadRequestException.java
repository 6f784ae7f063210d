package dev.oppu.serving;

/** A request that cannot be answered; the message is the reason put on the error response and the dead letter. */
public final class BadRequestException extends Exception {
  public BadRequestException(String reason) {
    super(reason);
  }
}
