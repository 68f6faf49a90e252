package aigw.core.lambda.crac;

import java.util.ArrayList;
import java.util.List;

/**
 * The CRaC context of aigw's own Lambda runtime ({@code aigw.core.lambda.StreamingRuntime}): where
 * {@code org.crac.Core.getGlobalContext().register(...)} (as {@code aigw.core.snapstart.Priming}
 * calls it) lands when the runtime sets {@code -Dorg.crac.Core.Compat=aigw.core.lambda.crac}.
 *
 * <p>Why not the Java runtime interface client's own context ({@code
 * com.amazonaws.services.lambda.crac}, which the managed runtime names in that property): its
 * {@code beforeCheckpoint} also clears the JDK's DNS cache through the client's JNI library, which
 * only the client loads. This class does what that context does otherwise (aws-lambda-java-libs,
 * {@code ContextImpl}): before the snapshot, the resources in reverse order of registration, then
 * the DNS cache is cleared ({@link DnsCache}) and a garbage collection is asked for; after the
 * restore, the resources in order of registration. Every resource runs even when one fails; the
 * failures come back as suppressed exceptions of one {@link CheckpointException} or {@link
 * RestoreException}.
 */
public final class Core {
  private static final GlobalContext GLOBAL = new GlobalContext();

  private Core() {}

  public static Context<Resource> getGlobalContext() {
    return GLOBAL;
  }

  /** Lambda takes the snapshot; a process cannot ask for one (as in the runtime interface client). */
  public static void checkpointRestore() {
    throw new UnsupportedOperationException("Lambda SnapStart takes the snapshot; see aigw.core.lambda.StreamingRuntime");
  }

  /** Runs every registered resource's beforeCheckpoint, newest first. */
  public static void beforeCheckpoint() throws CheckpointException {
    GLOBAL.beforeCheckpoint(GLOBAL);
  }

  /** Runs every registered resource's afterRestore, oldest first. */
  public static void afterRestore() throws RestoreException {
    GLOBAL.afterRestore(GLOBAL);
  }

  private static final class GlobalContext extends Context<Resource> {
    private final List<Resource> resources = new ArrayList<>();

    @Override
    public synchronized void register(Resource resource) {
      resources.add(resource);
    }

    @Override
    public synchronized void beforeCheckpoint(Context<? extends Resource> context) throws CheckpointException {
      var failure = new CheckpointException();
      for (Resource resource : resources.reversed()) {
        try {
          resource.beforeCheckpoint(this);
        } catch (Exception e) {
          failure.addSuppressed(e);
        }
      }
      DnsCache.clear();
      System.gc();
      if (failure.getSuppressed().length > 0) {
        throw failure;
      }
    }

    @Override
    public synchronized void afterRestore(Context<? extends Resource> context) throws RestoreException {
      var failure = new RestoreException();
      for (Resource resource : List.copyOf(resources)) {
        try {
          resource.afterRestore(this);
        } catch (Exception e) {
          failure.addSuppressed(e);
        }
      }
      if (failure.getSuppressed().length > 0) {
        throw failure;
      }
    }
  }
}
