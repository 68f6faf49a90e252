package aigw.core.lambda.crac;

import java.net.InetAddress;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Empties the JDK's cache of resolved host names before the snapshot, so that a restored
 * environment (possibly days later, anywhere in the region) resolves DynamoDB, Secrets Manager and
 * provider hosts again instead of using addresses cached at init. The runtime interface client does
 * the same through JNI ({@code DNSManager.clearCache}: {@code InetAddress.cache.clear()}); here it
 * is reflection, which needs {@code --add-opens java.base/java.net=ALL-UNNAMED} (the exec wrapper
 * adds it). Without it, the cache is left as it is and a warning says so: its entries still expire
 * after {@code networkaddress.cache.ttl} (30 s by default).
 */
final class DnsCache {
  private static final Logger LOG = Logger.getLogger(DnsCache.class.getName());

  private DnsCache() {}

  /** @return whether the cache was emptied */
  static boolean clear() {
    try {
      var field = InetAddress.class.getDeclaredField("cache");
      field.setAccessible(true);
      ((Map<?, ?>) field.get(null)).clear();
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.warning("The DNS cache could not be emptied before the snapshot (" + e + "); cached addresses expire after networkaddress.cache.ttl");
      return false;
    }
  }
}
