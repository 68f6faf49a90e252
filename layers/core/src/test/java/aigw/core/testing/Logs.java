package aigw.core.testing;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** What a class logs (java.util.logging) while an action runs. */
public final class Logs {
  private Logs() {}

  public static List<LogRecord> of(Class<?> type, Runnable action) {
    var records = new CopyOnWriteArrayList<LogRecord>();
    var handler =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            records.add(record);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Logger logger = Logger.getLogger(type.getName());
    logger.addHandler(handler);
    try {
      action.run();
    } finally {
      logger.removeHandler(handler);
    }
    return records;
  }

  public static List<String> messages(Class<?> type, Runnable action) {
    return of(type, action).stream().map(LogRecord::getMessage).toList();
  }
}
