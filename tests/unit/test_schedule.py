from producer.schedule import next_cycle_start


def test_cycles_stay_on_the_grid_whatever_the_cycle_took():
    assert next_cycle_start(t0=100.0, interval=60.0, now=100.0) == 160.0
    assert next_cycle_start(t0=100.0, interval=60.0, now=103.7) == 160.0
    assert next_cycle_start(t0=100.0, interval=60.0, now=159.999) == 160.0


def test_an_overrunning_cycle_skips_to_the_next_free_slot():
    assert next_cycle_start(t0=100.0, interval=60.0, now=161.0) == 220.0
    assert next_cycle_start(t0=0.0, interval=0.5, now=1.2) == 1.5
