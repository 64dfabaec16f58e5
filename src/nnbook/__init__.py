"""nnbook: the tested library behind the course-book *Neural networks, from the perceptron to CNNs*.

Every chapter of the book imports its code from here, every graded exercise is
checked against it, and every function is tested in ``tests/``.

Conventions used throughout (see the book's notation page):

* a batch of ``m`` examples with ``n_x`` features is an array ``X`` of shape ``(m, n_x)``;
* a weight matrix has shape ``(n_out, n_in)``, so a layer computes ``Z = X @ W.T + b``;
* ``J`` is the cost, the *mean* loss over the batch, and ``dW`` means ``∂J/∂W``.
"""

__version__ = "0.1.0"
