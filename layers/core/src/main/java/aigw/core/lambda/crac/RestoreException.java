package aigw.core.lambda.crac;

/** One or more resources failed after the restore; each failure is a suppressed exception. */
public final class RestoreException extends Exception {
  public RestoreException() {
    super("a resource failed after the restore");
  }
}
