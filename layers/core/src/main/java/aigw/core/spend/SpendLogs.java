package aigw.core.spend;

/**
 * Where one record per model call goes (LiteLLM's spend logs): what it cost and who made it, never
 * the prompt or the key. Writing may leave the client's critical path, but a record accepted here is
 * never lost.
 */
public interface SpendLogs {
  /** Keeps nothing: the master key's calls in tests, and wiring that has no spend log. */
  SpendLogs NONE = entry -> {};

  void record(SpendLogEntry entry);
}
