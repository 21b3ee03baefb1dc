"""fp32 against bf16 matrix products (``--precision bf16``) on 784-20 RBMs, whose log Z is exact:
CD-1 and PCD, 5 epochs on 20,000 binarized MNIST digits, the same seed and data in both
precisions; prints the exact average test log-probability of each and their difference.

    REVIVAL_DATA_DIR=~/data python scripts/precision_checks.py

(bf16 is forced here, whatever the probe says: this checks accuracy, not speed.)
"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from revival import data as D  # noqa: E402
from revival.config import RBMConfig
from revival.models import partition as P  # noqa: E402
from revival.models import rbm as R  # noqa: E402
from revival.training.train import RBMTrainer  # noqa: E402

torch.set_num_threads(1)
x, _ = D.load_split("mnist", "train", None)
xt, _ = D.load_split("mnist", "test", None)
tr = D.Visible(torch.from_numpy(D.binarize(x[:20000], "stochastic", 0)))
te = torch.from_numpy(D.binarize(xt, "stochastic", 1)).float()
for H in (20,):
    for cd in (1,):
        for pcd in (False, True):
            res = {}
            for prec in ("fp32", "bf16"):
                cfg = RBMConfig(n_hidden=H, epochs=5, lr=0.05, cd_k=cd, persistent=pcd, precision=prec)
                g = torch.Generator().manual_seed(0)
                m = R.RBM(784, H).init_(g, tr.all().mean(0))
                t = RBMTrainer(m, cfg, g)
                for e in range(cfg.epochs):
                    t.train_epoch(tr, e)
                W, b, c = m.params()
                logz = float(P.exact_log_z(W.double(), b.double(), c.double()))
                lp = float((-R.free_energy(te.double(), W.double(), b.double(), c.double())).mean() - logz)
                res[prec] = lp
            print(
                f"784-{H} {'PCD' if pcd else 'CD-%d' % cd}: exact test log p fp32 {res['fp32']:.3f}, bf16 {res['bf16']:.3f}, "
                f"difference {res['bf16'] - res['fp32']:+.3f} nats"
            )
