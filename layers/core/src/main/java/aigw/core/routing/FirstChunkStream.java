package aigw.core.routing;

import aigw.core.config.Deployment;
import aigw.core.providers.ProviderStream;
import aigw.core.providers.StreamChunk;

/**
 * A provider stream whose first chunk was read while the call could still be retried; {@link
 * #next} gives it first, then reads on. Nothing of it has reached the client yet. It knows the
 * deployment that answered ({@link #answeredBy}), for the cost of the call.
 */
final class FirstChunkStream implements ProviderStream {
  private final ProviderStream stream;
  private final Deployment answeredBy;
  private StreamChunk first;
  private boolean firstGiven;
  private boolean ended;

  FirstChunkStream(StreamChunk first, ProviderStream stream, Deployment answeredBy) {
    this.first = first;
    this.stream = stream;
    this.answeredBy = answeredBy;
  }

  @Override
  public Deployment answeredBy() {
    return answeredBy;
  }

  @Override
  public StreamChunk next() {
    if (!firstGiven) {
      firstGiven = true;
      StreamChunk chunk = first;
      first = null;
      ended = chunk == null; // the provider's answer had no chunk at all (its stream is closed)
      return chunk;
    }
    return ended ? null : stream.next();
  }

  @Override
  public boolean generationFinished() {
    return stream.generationFinished();
  }

  @Override
  public boolean nextInHand() {
    return !firstGiven || ended || stream.nextInHand();
  }

  @Override
  public void close() {
    stream.close();
  }
}
