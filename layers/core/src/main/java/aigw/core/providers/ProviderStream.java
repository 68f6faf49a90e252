package aigw.core.providers;

/**
 * A streamed provider answer: its status was 2xx and its chunks are read one by one, each already
 * in OpenAI's chunk shape. Not thread-safe: one reader; {@link #close} may come from any thread.
 *
 * <p>Whoever receives one must close it: closing ends the upstream call (for HTTP, the exchange is
 * cancelled and its connection closed), which is how a client that went away stops the generation.
 */
public non-sealed interface ProviderStream extends ProviderAnswer, AutoCloseable {
  /**
   * The next chunk, waiting for it at most the deployment's timeout; null once the provider said
   * its answer is complete (the stream is then closed).
   *
   * @throws aigw.core.errors.GatewayException when the provider reports an error inside the stream
   *     ({@code UpstreamFailed}), its connection fails or its answer is cut off ({@code
   *     UpstreamUnreachable}), or it sends nothing for the deployment's timeout ({@code
   *     UpstreamTimeout}); the stream is then closed
   */
  StreamChunk next();

  /**
   * Whether {@link #next} will return without waiting for the provider: its next chunk, its end or
   * its failure has already arrived. It may read and translate what has arrived to tell (never
   * waiting for more), and so throw what {@code next()} would have thrown for it. A reader that
   * holds its output back while it reads (the proxy's relay writes the events of every chunk that
   * is in and flushes them together) asks this before each {@code next()}, and flushes when it is
   * false: nothing that arrived waits on the provider's next bytes.
   *
   * <p>The default, false, is always safe: the reader then flushes before every {@code next()}.
   */
  default boolean nextInHand() {
    return false;
  }

  /**
   * The deployment whose stream this is (after failover, not necessarily the first tried), as
   * {@code FailoverPolicy} returns it; null from a provider called directly.
   */
  default aigw.core.config.Deployment answeredBy() {
    return null;
  }

  /**
   * True once the provider has finished generating (a chunk with a {@code finish_reason} came, or
   * the whole answer is in hand): what follows is its usage and end, which it bills whether or not
   * anyone reads them. From then on a client's departure ({@code aigw.core.http.ClientDeparture})
   * no longer ends the call at once: its rest is still read for at most {@code
   * UpstreamHttp.DEPARTED_GRACE}, so that the call is counted with the provider's usage, not an
   * estimate. Before it, a departure ends the call at once, which stops the generation. False
   * from a stream that does not tell (the departure then ends it at once, as before).
   */
  default boolean generationFinished() {
    return false;
  }

  /** Ends the upstream call if it is still open; may be called more than once. */
  @Override
  void close();
}
