package aigw.local;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The {@code Host} values the local server answers: the defence against DNS rebinding (issue 15,
 * finding 5). A web page on {@code evil.example} can make its own name resolve to 127.0.0.1 and
 * then call the gateway from the browser as a same-origin request (no CORS check applies); its
 * requests still carry {@code Host: evil.example}. So only these are answered:
 *
 * <ul>
 *   <li>an IP address literal naming an address the server listens on ({@link #boundTo}): on a
 *       loopback bind that address, {@code 127.0.0.1} and {@code [::1]}; on a wildcard bind
 *       ({@code 0.0.0.0}) the addresses of the machine's interfaces; on another bind that address.
 *       Rebinding needs a DNS name, so a literal is not its vector, but a literal naming some other
 *       machine ({@code 10.0.0.1}, {@code 127.0.0.2}) is a request meant for someone else (issue 15);
 *   <li>{@code localhost} and names under {@code .localhost}, which resolve to loopback only (RFC 6761
 *       section 6.3) and so cannot be rebound;
 *   <li>the names the operator lists in {@code AIGW_ALLOWED_HOSTS} or {@code --allowed-hosts}
 *       (comma-separated; {@code *} answers any name, for a trusted reverse proxy that sets Host).
 * </ul>
 *
 * Any port is accepted: the name is what a rebinding page controls, and a forwarded port
 * ({@code docker -p 8080:3000}) changes the port the client names.
 */
final class AllowedHosts {
  // Compiled once: every request's Host is checked, and String.matches compiles its pattern per call.
  private static final Pattern PORT_AFTER_BRACKET = Pattern.compile(":\\d{0,5}");
  private static final Pattern IPV6_LITERAL = Pattern.compile("[0-9A-Fa-f:.]+");
  private static final Pattern PORT = Pattern.compile("\\d{0,5}");
  private static final Pattern REG_NAME = Pattern.compile("[a-z0-9._-]+");
  private static final Pattern IPV4_PART = Pattern.compile("\\d{1,3}");

  private final Set<String> names;
  private final boolean any;
  /** The addresses an IP literal in Host may name; set by {@link #boundTo} once the bind is known. */
  private final Set<InetAddress> addresses;

  private AllowedHosts(Set<String> names, boolean any, Set<InetAddress> addresses) {
    this.names = names;
    this.any = any;
    this.addresses = addresses;
  }

  /**
   * These names, and as IP literals the addresses a server listening on {@code bound} answers on:
   * that address; on a loopback one also {@code 127.0.0.1} and {@code ::1} (what {@code localhost}
   * names); on the wildcard address every address of the machine's network interfaces (read now:
   * an interface added later is named by the operator in {@code AIGW_ALLOWED_HOSTS}).
   */
  AllowedHosts boundTo(InetAddress bound) {
    var own = new HashSet<InetAddress>();
    own.add(bound);
    if (bound.isLoopbackAddress() || bound.isAnyLocalAddress()) {
      own.add(InetAddress.getLoopbackAddress());
      own.add(literal("127.0.0.1"));
      own.add(literal("::1"));
    }
    if (bound.isAnyLocalAddress()) {
      try {
        for (NetworkInterface face : Collections.list(NetworkInterface.getNetworkInterfaces())) {
          own.addAll(Collections.list(face.getInetAddresses()).stream().map(AllowedHosts::withoutScope).toList());
        }
      } catch (SocketException unreadable) {
        // the loopback literals only; names still work
      }
    }
    return new AllowedHosts(names, any, Set.copyOf(own));
  }

  /** From {@code AIGW_ALLOWED_HOSTS}'s value (null or blank: none beyond addresses and localhost). */
  static AllowedHosts of(String configured) {
    Set<String> names = configured == null
        ? Set.of()
        : Arrays.stream(configured.split(","))
            .map(String::strip)
            .filter(name -> !name.isEmpty())
            .map(AllowedHosts::normalized)
            .collect(Collectors.toUnmodifiableSet());
    return new AllowedHosts(names, names.contains("*"), Set.of(literal("127.0.0.1"), literal("::1")));
  }

  /**
   * Whether a request naming {@code host} (its {@code Host} header, a port or not) is answered.
   *
   * @param host the header's value; never null (a missing Host is the caller's 400)
   */
  boolean allows(String host) {
    if (any) {
      return true;
    }
    String name = nameOf(host);
    if (name == null) {
      return false;
    }
    if (name.startsWith("[") || isIpv4(name)) {
      InetAddress address = literal(name.startsWith("[") ? name.substring(1, name.length() - 1) : name);
      return address != null && addresses.contains(address);
    }
    return name.equals("localhost") || name.endsWith(".localhost") || names.contains(name);
  }

  /** An IP literal as an address (no name lookup: {@code getByName} parses a literal); null when not one. */
  private static InetAddress literal(String text) {
    try {
      return withoutScope(InetAddress.getByName(text));
    } catch (java.net.UnknownHostException notOne) {
      return null;
    }
  }

  /** An IPv6 address without its interface scope ({@code fe80::1%eth0}), as a Host literal names it. */
  private static InetAddress withoutScope(InetAddress address) {
    if (address instanceof Inet6Address six && six.getScopeId() != 0) {
      try {
        return InetAddress.getByAddress(six.getAddress());
      } catch (java.net.UnknownHostException cannot) {
        return address;
      }
    }
    return address;
  }

  /** The host name of a Host value: without its port, lower-case, without a trailing dot; null when malformed. */
  static String nameOf(String host) {
    String value = host.strip();
    String name;
    if (value.startsWith("[")) {
      int end = value.indexOf(']');
      if (end < 0 || (end + 1 < value.length() && !PORT_AFTER_BRACKET.matcher(value.substring(end + 1)).matches())) {
        return null;
      }
      name = value.substring(0, end + 1);
      return IPV6_LITERAL.matcher(name.substring(1, name.length() - 1)).matches() ? name.toLowerCase(Locale.ROOT) : null;
    }
    int colon = value.indexOf(':');
    if (colon >= 0) {
      if (!PORT.matcher(value.substring(colon + 1)).matches()) {
        return null;
      }
      value = value.substring(0, colon);
    }
    name = normalized(value);
    return REG_NAME.matcher(name).matches() ? name : null; // reg-name as browsers send it (RFC 3986 section 3.2.2)
  }

  private static String normalized(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return lower.endsWith(".") ? lower.substring(0, lower.length() - 1) : lower;
  }

  private static boolean isIpv4(String name) {
    String[] parts = name.split("\\.", -1);
    if (parts.length != 4) {
      return false;
    }
    for (String part : parts) {
      if (!IPV4_PART.matcher(part).matches() || Integer.parseInt(part) > 255) {
        return false;
      }
    }
    return true;
  }
}
