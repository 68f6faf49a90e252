package aigw.core.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.random.RandomGenerator;

/**
 * Public model name to deployments. Several entries with one {@code model_name} are balanced round
 * robin; callers get the whole rotation so they can fail over to the next deployment.
 */
public final class Router {
  private final Map<String, List<Deployment>> byName = new LinkedHashMap<>();
  private final Map<String, AtomicInteger> cursors = new LinkedHashMap<>();

  public Router(List<Deployment> deployments) {
    for (Deployment d : deployments) {
      byName.computeIfAbsent(d.modelName(), name -> new ArrayList<>()).add(d);
      cursors.computeIfAbsent(d.modelName(), name -> new AtomicInteger());
    }
    byName.replaceAll((name, list) -> List.copyOf(list));
  }

  /**
   * Moves every model's turn to a random deployment. A new execution environment calls it (and a
   * SnapStart restore again): otherwise every container, and every environment restored from one
   * snapshot, would send its first request of each model to the same deployment.
   */
  public void startAtRandom(RandomGenerator random) {
    cursors.forEach((name, cursor) -> cursor.set(random.nextInt(byName.get(name).size())));
  }

  /** The deployments of a model, starting with the one whose turn it is; empty if unknown. */
  public List<Deployment> rotation(String modelName) {
    List<Deployment> all = byName.get(modelName);
    if (all == null) {
      return List.of();
    }
    if (all.size() == 1) {
      return all;
    }
    int start = Math.floorMod(cursors.get(modelName).getAndIncrement(), all.size());
    var ordered = new ArrayList<Deployment>(all.size());
    for (int i = 0; i < all.size(); i++) {
      ordered.add(all.get((start + i) % all.size()));
    }
    return ordered;
  }

  /** Public model names in config order, with the provider of their first deployment. */
  public Map<String, Provider> models() {
    var models = new LinkedHashMap<String, Provider>();
    byName.forEach((name, list) -> models.put(name, list.get(0).provider()));
    return models;
  }

  /**
   * Whether a key with these {@code models} entries may use {@code modelName} ({@link ModelAccess}'s
   * rules; provider patterns such as {@code openai/*} match the provider of the model's deployments).
   */
  public boolean allows(List<String> entries, String modelName) {
    List<Deployment> deployments = byName.get(modelName);
    return ModelAccess.allows(entries, modelName, deployments == null ? null : deployments.get(0).provider().prefix());
  }

  /** The provider of a model's first deployment; null if the gateway does not serve it. */
  public Provider providerOf(String modelName) {
    List<Deployment> deployments = byName.get(modelName);
    return deployments == null ? null : deployments.get(0).provider();
  }

  public int size() {
    return byName.values().stream().mapToInt(List::size).sum();
  }
}
