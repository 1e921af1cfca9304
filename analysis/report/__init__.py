"""The HTML report, a pure function of run directories.

``study`` computes the numbers, ``first_screen`` the headline figures, ``tables`` the full tables,
``anatomy`` the first screen's two figures' data, ``figures`` picks the plots a run supports and
``plots`` draws them, ``environment`` describes each machine, ``output`` writes files atomically,
``page`` assembles the page from ``templates/``, and ``cli`` is ``lbb report``.
"""
