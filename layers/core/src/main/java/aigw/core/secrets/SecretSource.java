package aigw.core.secrets;

/** Where the master key comes from. Implementations read it; {@link MasterKey} caches and compares. */
public interface SecretSource {
  /** Reads the current value; throws {@link SecretUnavailable} if it cannot. */
  String read();

  /** For log lines: where the secret lives, never what it is. */
  String describe();

  /** Thrown when the secret cannot be read or is empty. */
  final class SecretUnavailable extends RuntimeException {
    public SecretUnavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
