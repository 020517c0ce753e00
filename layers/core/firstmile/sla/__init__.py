"""Service levels (issue 15): what Firstmile measures of itself, and how it answers for its SLOs."""
