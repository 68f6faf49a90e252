package aigw.core.auth;

import aigw.core.keys.VirtualKey;

/** Who is calling, once authenticated: the admin, or an application with a virtual key. */
public sealed interface Caller {
  record Master() implements Caller {}

  record Virtual(VirtualKey key) implements Caller {}
}
