package aigw.core.auth;

import aigw.core.keys.VirtualKey;
import aigw.core.teams.Team;

/** Who is calling, once authenticated: the admin, or an application with a virtual key. */
public sealed interface Caller {
  record Master() implements Caller {}

  /**
   * @param team the key's team as read with the key (neither blocked nor gone), or null for a key in no team
   */
  record Virtual(VirtualKey key, Team team) implements Caller {
    public Virtual(VirtualKey key) {
      this(key, null);
    }
  }
}
