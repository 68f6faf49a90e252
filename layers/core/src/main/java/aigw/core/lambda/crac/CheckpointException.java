package aigw.core.lambda.crac;

/** One or more resources failed before the snapshot; each failure is a suppressed exception. */
public final class CheckpointException extends Exception {
  public CheckpointException() {
    super("a resource failed before the snapshot");
  }
}
