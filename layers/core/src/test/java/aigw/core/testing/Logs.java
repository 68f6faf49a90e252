package aigw.core.testing;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** What a class logs (java.util.logging) while an action runs. */
public final class Logs {
  private Logs() {}

  /** An action that may throw, such as starting a gateway. */
  public interface Action {
    void run() throws Exception;
  }

  public static List<LogRecord> of(Class<?> type, Runnable action) {
    try {
      return of(type.getName(), action::run);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e); // a Runnable throws no checked exception
    }
  }

  /** Every record logged under {@code loggerName} (a class or a package, e.g. "aigw") while {@code action} runs. */
  public static List<LogRecord> of(String loggerName, Action action) throws Exception {
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
    Logger logger = Logger.getLogger(loggerName);
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
