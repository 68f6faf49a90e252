package aigw.core.rotation;

/** Where rotation events go: EventBridge's default bus on AWS, the log locally. */
public interface RotationEvents {
  /** Publishes the event; a failure is logged, never thrown: the rotation itself has happened. */
  void publish(RotationEvent event);
}
