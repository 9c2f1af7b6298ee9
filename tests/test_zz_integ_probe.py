import faulthandler
from tests.airflow_helpers import load_dag, run_dag, task_states, xcom
from tests.conftest import EXAMPLE_DAGS

def test_probe(sandbox, use_connection):
    use_connection(sandbox)
    dag = load_dag(EXAMPLE_DAGS / "fxiaoke_nightly_load.py")
    f = open("/tmp/integ/tb.txt", "w")
    faulthandler.dump_traceback_later(6, repeat=True, file=f)
    dr = run_dag(dag)
    faulthandler.cancel_dump_traceback_later()
    print(type(dr), dr.state, task_states(dr))
