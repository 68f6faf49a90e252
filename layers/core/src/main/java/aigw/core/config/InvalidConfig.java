package aigw.core.config;

/** Thrown at start when the model list cannot be used; the message says which entry and why. */
public final class InvalidConfig extends RuntimeException {
  public InvalidConfig(String message) {
    super(message);
  }

  public InvalidConfig(String message, Throwable cause) {
    super(message, cause);
  }
}
