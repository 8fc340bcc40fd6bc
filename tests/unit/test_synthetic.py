from common.contract import message_problem
from producer.synthetic import SyntheticMarket, SyntheticSource


def run(seed):
    market = SyntheticMarket(["AAPL", "ZZZZ"], seed=seed)
    return [market.next_trade(s, 1_763_000_000_000 + i * 1000, 0) for i in range(50) for s in ("AAPL", "ZZZZ")]


def test_the_same_seed_gives_the_same_market():
    assert [(m["price"], m["volume"]) for m in run(7)] == [(m["price"], m["volume"]) for m in run(7)]
    assert [m["price"] for m in run(7)] != [m["price"] for m in run(8)]


def test_trades_are_valid_contract_messages_with_unique_ids():
    trades = run(1)
    assert all(message_problem({**t, "ingested_at": 1}) is None for t in trades)
    assert len({t["id"] for t in trades}) == len(trades)
    assert all(t["volume"] >= 1 for t in trades)


class CountingPublisher:
    def __init__(self):
        self.messages = []

    def publish(self, message):
        self.messages.append(message)


def test_a_slow_cycle_does_not_pile_up_a_debt(monkeypatch):
    import producer.synthetic as synthetic

    clock = iter([1_000_000, 1_001_000, 1_060_000])  # the second cycle comes a minute late
    monkeypatch.setattr(synthetic, "epoch_ms", lambda: next(clock))
    source = SyntheticSource(["AAPL", "MSFT"], seed=1, rate=100, interval=1.0)
    publisher = CountingPublisher()
    counts = [source.run_cycle(publisher, None, None).published for _ in range(3)]
    assert counts == [100, 100, 100]  # one interval's worth each, not 6000 after the late one
    assert [m["symbol"] for m in publisher.messages[:4]] == ["AAPL", "MSFT", "AAPL", "MSFT"]
