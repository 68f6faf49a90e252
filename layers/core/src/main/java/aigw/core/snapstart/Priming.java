package aigw.core.snapstart;

import aigw.core.Gateway;
import aigw.core.http.GatewayRequest;
import aigw.core.http.GatewayResponse;
import aigw.core.json.Json;
import aigw.core.providers.ForwardedBody;
import aigw.core.usage.TokenUsage;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Logger;
import org.crac.Context;
import org.crac.Core;
import org.crac.Resource;

/**
 * SnapStart priming: before Lambda takes the snapshot, run the request path once so the restored
 * container has its classes loaded and linked (Jackson, the SDK's DynamoDB marshalling, error
 * envelopes), instead of paying for that on the first real request.
 *
 * <p>What it runs: a model-list and a chat request without a key (each answered 401 by the
 * authenticator, so no provider is called), a health check, one real GetItem for a key that cannot
 * exist, a JSON round trip of a chat completion, and the function's own extra priming (the proxy
 * function's: one streamed chat completion from a loopback stand-in, {@code aigw.proxy.StreamPriming}).
 * What it leaves out of the snapshot: no key is cached (the GetItem finds nothing), no connection to
 * a provider or a stand-in stays open, no random state or id is created.
 *
 * <p>After a restore ({@link #afterRestore}), {@link Gateway#renewAfterRestore} makes the master
 * key and the provider credentials be read again at their next use and restarts the round-robin
 * turns at random: the snapshot may be days old and is shared by every restored environment.
 */
public final class Priming implements Resource {
  private static final Logger LOG = Logger.getLogger(Priming.class.getName());
  private static final byte[] SAMPLE_COMPLETION =
      ("{\"id\":\"chatcmpl-prime\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"prime\",\"choices\":[{\"index\":0,"
              + "\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":\"stop\"}],"
              + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}")
          .getBytes(StandardCharsets.UTF_8);

  /** CRaC holds resources weakly; the registered instances live here. */
  private static final java.util.List<Priming> REGISTERED = new java.util.concurrent.CopyOnWriteArrayList<>();

  private final Gateway gateway;
  private final Function<GatewayRequest, GatewayResponse> app;
  /** What the function primes beyond the requests without a key (the proxy's streamed path). */
  private final Extra extra;

  /** A function's own priming step; what it throws is logged, and the snapshot is still taken. */
  @FunctionalInterface
  public interface Extra {
    void run() throws Exception;
  }

  private Priming(Gateway gateway, Function<GatewayRequest, GatewayResponse> app, Extra extra) {
    this.gateway = gateway;
    this.app = app;
    this.extra = extra;
  }

  /** Registers priming of {@code app} with the CRaC context; a no-op where nothing checkpoints. */
  public static Priming register(Gateway gateway, Function<GatewayRequest, GatewayResponse> app) {
    return register(gateway, app, () -> {});
  }

  /** As {@link #register(Gateway, Function)}, with {@code extra} run after the requests without a key. */
  public static Priming register(Gateway gateway, Function<GatewayRequest, GatewayResponse> app, Extra extra) {
    var priming = new Priming(gateway, app, extra);
    REGISTERED.add(priming);
    Core.getGlobalContext().register(priming);
    return priming;
  }

  @Override
  public void beforeCheckpoint(Context<? extends Resource> context) {
    prime();
    // Usage handed over while priming would be restored into every environment and written by
    // each: forgotten here, before the snapshot. (No writer thread runs on Lambda: nothing else
    // of the usage writer is in the snapshot.)
    int primed = gateway.discardPendingWrites();
    if (primed > 0) {
      LOG.info("Priming's usage (" + primed + " request(s)) is not recorded");
    }
  }

  @Override
  public void afterRestore(Context<? extends Resource> context) {
    gateway.renewAfterRestore();
  }

  /** Runs the request path once; failures are logged, never thrown, so a snapshot is still taken. */
  public void prime() {
    long start = System.nanoTime();
    try {
      byte[] chat = "{\"model\":\"prime\",\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}".getBytes(StandardCharsets.UTF_8);
      call("GET", "/v1/models", new byte[0]);
      call("POST", "/v1/chat/completions", chat);
      call("GET", "/health/liveliness", new byte[0]);
      gateway.keyStore().findByHash("0".repeat(64)); // one real read: SDK marshalling and connection
      TokenUsage.fromOpenAi(Json.readObject(SAMPLE_COMPLETION).get("usage"));
      ForwardedBody.of(chat).withModel("primed"); // the body splice a proxied call makes
      extra.run();
      LOG.info("Primed the request path in " + (System.nanoTime() - start) / 1_000_000 + " ms");
    } catch (Exception e) {
      LOG.warning("Priming did not complete (" + e + "); the first request will load what is missing");
    }
  }

  private void call(String method, String path, byte[] body) {
    try {
      app.apply(new GatewayRequest(method, path, Map.of("content-type", "application/json"), Map.of(), body, "priming"));
    } catch (RuntimeException expected) {
      // 401s and 404s are thrown as GatewayExceptions: loading their classes is the point.
    }
  }
}
