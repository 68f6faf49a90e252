package aigw.core.providers.http;

import java.io.IOException;

/** Thrown by a streamed provider body when no byte arrived within the call's timeout. */
public final class IdleTimeout extends IOException {
  IdleTimeout(String message) {
    super(message);
  }
}
