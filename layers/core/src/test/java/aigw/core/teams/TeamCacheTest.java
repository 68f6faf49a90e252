package aigw.core.teams;

import static org.assertj.core.api.Assertions.assertThat;

import aigw.core.teams.dynamodb.DynamoDbTeamStore;
import aigw.core.testing.LocalDynamo;
import aigw.core.testing.MutableClock;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two containers' team caches over one DynamoDB Local table: a hot team costs no read, and a change
 * made through one container holds there at once and in the other within the TTL.
 */
class TeamCacheTest {
  private static final Duration TTL = Duration.ofSeconds(5);
  private static LocalDynamo dynamo;
  private static TeamStore table;

  @BeforeAll
  static void start() {
    dynamo = new LocalDynamo();
    table = new DynamoDbTeamStore(dynamo.client(), dynamo.keysTable());
  }

  @AfterAll
  static void stop() {
    dynamo.close();
  }

  /** The table as one container reaches it, counting its reads. */
  static final class Counted implements TeamStore {
    final AtomicInteger reads = new AtomicInteger();

    @Override
    public Optional<Team> find(String teamId) {
      reads.incrementAndGet();
      return table.find(teamId);
    }

    @Override
    public void create(Team team) {
      table.create(team);
    }

    @Override
    public Team update(String teamId, TeamChanges changes, Instant now) {
      return table.update(teamId, changes, now);
    }

    @Override
    public void deleteAll(Collection<String> teamIds) {
      table.deleteAll(teamIds);
    }

    @Override
    public List<Team> listAll() {
      return table.listAll();
    }

    @Override
    public java.util.Map<String, BigDecimal> spendByKey() {
      return table.spendByKey();
    }
  }

  @Test
  void aBlockHoldsAtOnceWhereItWasMadeAndWithinTheTtlElsewhere() {
    var clock = MutableClock.at("2026-12-01T10:00:00Z");
    var here = new Counted();
    var there = new Counted();
    var hereCache = new TeamCache(here, clock, TTL);
    var thereCache = new TeamCache(there, clock, TTL);
    table.create(new Team("shared", null, List.of(), null, false, null, clock.instant(), clock.instant()));
    assertThat(hereCache.find("shared").orElseThrow().blocked()).isFalse();
    assertThat(thereCache.find("shared").orElseThrow().blocked()).isFalse();
    assertThat(thereCache.find("shared")).isPresent();
    assertThat(there.reads).as("a hot team costs no read").hasValue(1);

    here.update("shared", TeamChanges.blocked(true), clock.instant());
    hereCache.evict("shared"); // what the admin API does after every team change

    assertThat(hereCache.find("shared").orElseThrow().blocked()).as("here: at once").isTrue();
    clock.advance(TTL.minusMillis(1));
    assertThat(thereCache.find("shared").orElseThrow().blocked()).as("there: still the copy it read").isFalse();
    clock.advance(Duration.ofMillis(1));
    assertThat(thereCache.find("shared").orElseThrow().blocked()).as("there: after the TTL").isTrue();
  }

  @Test
  void aDeletedTeamIsGoneAfterTheTtlAndAnUnknownOneIsNotCached() {
    var clock = MutableClock.at("2026-12-01T10:00:00Z");
    var store = new Counted();
    var cache = new TeamCache(store, clock, TTL);
    assertThat(cache.find("later")).isEmpty();
    table.create(new Team("later", null, List.of(), null, false, null, clock.instant(), clock.instant()));
    assertThat(cache.find("later")).as("created a moment ago: found at once").isPresent();

    table.deleteAll(List.of("later"));
    assertThat(cache.find("later")).isPresent();
    clock.advance(TTL);
    assertThat(cache.find("later")).isEmpty();
  }
}
