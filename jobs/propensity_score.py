"""Score a snapshot with each outcome's champion into gold/propensity_scores.

python jobs/propensity_score.py --snapshot-date 2026-02-12
"""

from telcoseg.cli import main
from telcoseg.propensity.jobs import add_score_args, score_job

if __name__ == "__main__":
    main("propensity_score", score_job, add_score_args)
