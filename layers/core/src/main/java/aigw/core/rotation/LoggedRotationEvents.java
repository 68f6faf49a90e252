package aigw.core.rotation;

import aigw.core.json.Json;
import java.util.logging.Logger;

/** The local gateway's event bus: each event is one log line, as EventBridge would deliver its detail. */
public final class LoggedRotationEvents implements RotationEvents {
  private static final Logger LOG = Logger.getLogger(LoggedRotationEvents.class.getName());

  @Override
  public void publish(RotationEvent event) {
    LOG.info(RotationEvent.DETAIL_TYPE + " (source " + RotationEvent.SOURCE + "): " + Json.string(event.detail()));
  }
}
