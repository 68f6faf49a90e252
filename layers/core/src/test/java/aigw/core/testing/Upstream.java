package aigw.core.testing;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;

import com.github.tomakehurst.wiremock.WireMockServer;

/** A loopback WireMock server standing in for a model provider. */
public final class Upstream {
  private Upstream() {}

  public static WireMockServer start() {
    var server = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
    server.start();
    return server;
  }
}
