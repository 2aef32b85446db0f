"""Models and datasets registered in a user's script reach isolated live-trial workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

USER_SCRIPT = textwrap.dedent('''
    """A user's script: a dataset and a model registered in __main__, live trials isolated (the default)."""
    from agenticrs.envs.backends import LiveBackend
    from agenticrs.envs.core import Task, TrialConfig
    from agenticrs.recsys.data import load_dataset, register_dataset
    from agenticrs.recsys.models.base import register_model
    from agenticrs.recsys.models.pop import Pop


    @register_dataset("shop")
    def load_shop(arg):
        return load_dataset("synthetic:users=60,items=80,seed=3")


    @register_model("shop_pop")
    class ShopPop(Pop):
        """Pop under the user's own name (defined here, in __main__: not importable by a worker)."""


    if __name__ == "__main__":
        with LiveBackend(timeout_s=120) as backend:
            assert backend.isolate
            result = backend.evaluate(Task("shop-task", "shop:x"), TrialConfig.make("shop_pop"), 1.0, 0)
        print(result.status, result.reason, result.valid)
''')


def test_registrations_in_a_user_script_reach_isolated_workers(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    status, _, rest = proc.stdout.strip().splitlines()[-1].partition(" ")
    assert status == "ok", proc.stdout
    assert "ndcg@10" in rest


def test_a_registration_the_worker_cannot_rebuild_fails_the_trial_with_instructions():
    from agenticrs.envs.backends import shipped_registrations as sr

    broken = sr.Registrations(b"not a pickle", "digest-of-broken", ("model 'x' (__main__)",))
    try:
        sr.apply(broken)
    except RuntimeError as e:
        msg = str(e)
    else:
        raise AssertionError("apply() accepted a broken registration")
    assert "model 'x' (__main__)" in msg and "setup_modules" in msg and "isolate=False" in msg
