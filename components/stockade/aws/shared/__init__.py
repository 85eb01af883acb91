"""Building blocks shared by the AWS components: IAM, Fargate, containers, secrets, logs, alarms,
and the two small components every stack has (``AlarmTopic``, ``EncryptionKey``).

Submodules are imported directly (``stockade.aws.shared.iam``); only the components load here.
"""

from stockade.aws.shared.alarm_topic import AlarmTopic, AlarmTopicArgs
from stockade.aws.shared.encryption_key import EncryptionKey, EncryptionKeyArgs

__all__ = ["AlarmTopic", "AlarmTopicArgs", "EncryptionKey", "EncryptionKeyArgs"]
