package aigw.local;

/**
 * The jar's {@code Main-Class}: checks that the JVM is Java 21 or newer, then runs {@link Main}.
 * Compiled for Java 8 (its own execution of the compiler in local/pom.xml; everything else is
 * compiled for 21), so that an older JVM can load it and say in one line what is wrong, where it
 * would otherwise fail to load {@link Main} with a raw {@code UnsupportedClassVersionError} and a
 * stack trace. {@link Main} is referenced directly, not by reflection: the JVM resolves it only
 * when the call runs, after the check, and a start pays no reflective call.
 */
public final class Launcher {
  /** The oldest Java the gateway runs on (the Lambda {@code java21} runtime, README). */
  static final int REQUIRED_JAVA = 21;

  private Launcher() {}

  public static void main(String[] argv) throws Exception {
    int feature = feature(System.getProperty("java.specification.version"));
    if (feature < REQUIRED_JAVA) {
      System.err.println("aigw needs Java " + REQUIRED_JAVA + " or newer; this is Java " + System.getProperty("java.specification.version")
          + " at " + System.getProperty("java.home") + ". Run it with a newer java (JAVA_HOME, or the full path to its bin/java).");
      System.exit(1);
      return;
    }
    Main.main(argv);
  }

  /** The feature release of a {@code java.specification.version}: {@code 1.8} is 8, {@code 17} is 17; 0 when unreadable. */
  static int feature(String specification) {
    if (specification == null) {
      return 0;
    }
    String version = specification.startsWith("1.") ? specification.substring(2) : specification;
    int dot = version.indexOf('.');
    try {
      return Integer.parseInt(dot < 0 ? version : version.substring(0, dot));
    } catch (NumberFormatException unreadable) {
      return 0;
    }
  }
}
