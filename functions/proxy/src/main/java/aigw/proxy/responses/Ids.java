package aigw.proxy.responses;

import java.util.UUID;

/** New ids for the objects of a translated Response: {@code resp_…}, {@code msg_…}, {@code fc_…}. */
@FunctionalInterface
public interface Ids {
  /** An id starting with {@code prefix} and {@code _}, unique in practice. */
  String next(String prefix);

  /** Random ids (not secrets: they name objects the client already holds). */
  static Ids random() {
    return prefix -> prefix + "_" + UUID.randomUUID().toString().replace("-", "");
  }
}
