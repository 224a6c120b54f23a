from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

# Said as the hint under the field says it, not WTForms' "between 8 and 1024
# characters".
_PASSWORD_LENGTH = _l("At least 8 characters, please.")


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class RegisterForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(
        _l("E-mail"),
        validators=[
            DataRequired(),
            Email(
                message=_l("Please enter a valid e-mail address."),
                check_deliverability=False,
            ),
        ],
    )
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(),
            Length(min=8, message=_PASSWORD_LENGTH),
            Length(max=1024),
        ],
    )


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])


class ResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(min=8, message=_PASSWORD_LENGTH),
            Length(max=1024),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(),
            EqualTo("password", message=_l("The passwords differ.")),
        ],
    )
