from common.contract import message_problem
from producer.synthetic import SyntheticMarket


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
