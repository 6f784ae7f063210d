package dev.oppu.serving;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.Request;

/** Checks a request and works out how to answer it; every refusal names its reason. */
public final class RequestValidator {

  /** A request that passed: its task, the text cut out of its input, the mode and k it will be answered with. */
  public record Validated(Task task, Task.Extracted extracted, Mode mode, int k) {}

  private final ServingConfig config;

  public RequestValidator(ServingConfig config) {
    this.config = config;
  }

  /**
   * @param recordKey the record's key, which must be the request's user id: the partition of that key holds the
   *                  user's history and adapters, and no other user's data may answer the request
   */
  public Validated validate(String recordKey, Request r) throws BadRequestException {
    if (blank(r.getRequestId())) {
      throw new BadRequestException("missing requestId");
    }
    if (blank(r.getUserId())) {
      throw new BadRequestException("missing userId");
    }
    String tooLong = config.limits().idProblem("requestId", r.getRequestId());
    if (tooLong == null) {
      tooLong = config.limits().idProblem("userId", r.getUserId());
    }
    if (tooLong != null) {
      throw new BadRequestException(tooLong);
    }
    if (recordKey == null || !recordKey.equals(r.getUserId())) {
      throw new BadRequestException("record key '" + quote(recordKey) + "' is not the request's userId '"
          + r.getUserId() + "' (requests must be keyed by user id)");
    }
    Task task;
    try {
      task = Task.of(r.getTask());
    } catch (LampInputException e) {
      throw new BadRequestException(e.getMessage());
    }
    if (blank(r.getInput())) {
      throw new BadRequestException("missing input");
    }
    if (r.getInput().length() > config.maxInputChars()) {
      throw new BadRequestException("input of " + r.getInput().length() + " characters exceeds the limit of "
          + config.maxInputChars());
    }
    Task.Extracted x;
    try {
      x = task.extract(r.getInput());
    } catch (LampInputException e) {
      throw new BadRequestException(e.getMessage());
    }
    Mode mode;
    try {
      mode = r.getMode() == null ? config.defaultMode() : Mode.of(r.getMode());
    } catch (IllegalArgumentException e) {
      throw new BadRequestException(e.getMessage());
    }
    int k = r.getK() == null ? config.defaultK() : r.getK();
    if (k < 0 || k > config.maxK()) {
      throw new BadRequestException("k=" + k + " is outside 0.." + config.maxK());
    }
    if (mode.usesRetrieval() && k == 0) {
      throw new BadRequestException("mode " + mode + " needs k >= 1");
    }
    return new Validated(task, x, mode, mode.usesRetrieval() ? k : 0);
  }

  /** Whether an error response may echo the request's ids (a response must not carry oversize ids). */
  public boolean idsFit(Request r) {
    return config.limits().fits(r.getRequestId()) && config.limits().fits(r.getUserId());
  }

  private String quote(String s) {
    return InputLimits.clip(s, config.limits().maxIdChars());
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }
}
