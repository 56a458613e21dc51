"""Flight patterns in a metric CRS: survey (lawnmower), IAMSAR expanding square, sector,
creeping line / parallel track, corridor and perimeter spiral. Each returns a
:class:`~missions.patterns.base.PathPlan`; :mod:`missions.planner` turns it into a mission."""
