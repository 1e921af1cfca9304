"""The HTML report, a pure function of run directories.

``study`` computes the numbers, ``first_screen`` the headline figures, ``tables`` the full tables,
``anatomy`` the first screen's two figures' data, ``figures`` picks the charts a run supports
and ``charts`` draws them (one module each, ``style`` their looks), ``environment`` describes
each machine, ``output`` writes files atomically, ``page`` assembles the page from
``templates/``, and ``cli`` is ``lbb report``.
"""
